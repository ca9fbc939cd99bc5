"""Connectors: how the product reaches data where it lives (Solid pods today; S3, Azure Blob and
files for pushed datasets). Each connector is usable on its own, outside the server."""

"""Two launch measurements a space can accept: one SEV-SNP, one TDX."""

from __future__ import annotations

SNP = (
    "sev-snp:7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d"
    "3e1a0dc39b2c60bd95b9c480cd81841f"
)


TDX = (
    "tdx:6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f"
    "22fc00b8dcd404bc10d5e119d7215cbb"
)

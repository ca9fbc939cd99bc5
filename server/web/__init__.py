"""HTTP views of the control plane, one blueprint per module. Views stay thin."""

"""Machine helpers with no hf_sts dependencies: `hardware` (devices, bf16, threads) and `logging` (log setup)."""

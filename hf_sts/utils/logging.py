"""Log setup shared by the command line and the scripts: one format, library verbosity, hf_sts' own loggers."""

import logging
import sys


def configure_logging(library_level: int = logging.WARNING, main_process: bool = True) -> None:
    """Log to stdout, once per process: transformers and datasets at `library_level`, hf_sts' own loggers (the
    `hf_sts` package logger and its children) at INFO on the main process and at `library_level` elsewhere."""
    import datasets
    import transformers

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", handlers=[logging.StreamHandler(sys.stdout)]
    )
    datasets.utils.logging.set_verbosity(library_level)
    transformers.utils.logging.set_verbosity(library_level)
    logging.getLogger("hf_sts").setLevel(logging.INFO if main_process else library_level)

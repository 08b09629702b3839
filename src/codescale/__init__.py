"""codescale: scaling-law studies of code language models (arXiv 2512.13472), end to end."""

__version__ = "0.1.0"

# The study's languages, in the paper's order (every table, matrix and figure uses this order),
# and their display names: re-exported from the catalog, where a new language is added.
from codescale.catalog import LANGUAGE_NAMES, LANGUAGES

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "__version__"]

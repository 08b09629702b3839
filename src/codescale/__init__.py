"""codescale: scaling-law studies of code language models (arXiv 2512.13472), end to end."""

__version__ = "0.1.0"

# The study's languages, in the paper's order. Every table, matrix and figure uses this order.
LANGUAGES: tuple[str, ...] = ("python", "java", "javascript", "typescript", "csharp", "go", "rust")

LANGUAGE_NAMES: dict[str, str] = {
    "python": "Python",
    "java": "Java",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "csharp": "C#",
    "go": "Go",
    "rust": "Rust",
}

"""Loading manifests from files, directories and stdin (the input edge of kubeward)."""

from kubeward.sources.loader import Document, LoadIssue, LoadResult, SourceFile, load_paths, load_text

__all__ = ["Document", "LoadIssue", "LoadResult", "SourceFile", "load_paths", "load_text"]

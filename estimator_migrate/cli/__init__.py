"""Command-line binaries: thin absl mains over one library call each."""

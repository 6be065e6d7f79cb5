"""cfgen's compute rules, one small concern per file."""

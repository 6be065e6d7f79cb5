"""cfgen's monitoring rules, one small concern per file."""

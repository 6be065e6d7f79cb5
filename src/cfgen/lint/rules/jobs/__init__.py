"""cfgen's jobs rules, one small concern per file."""

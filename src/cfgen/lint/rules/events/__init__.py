"""cfgen's events rules, one small concern per file."""

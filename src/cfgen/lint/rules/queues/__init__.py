"""cfgen's queues rules, one small concern per file."""

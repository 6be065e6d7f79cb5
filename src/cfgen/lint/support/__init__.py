"""What the rules of one section share: AWS doc URLs, iteration helpers, constants."""

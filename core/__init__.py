"""What every Ronda package shares and nothing else: it imports no package of ours."""

"""Vector index backends behind one reader/writer interface."""

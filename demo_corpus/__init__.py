"""Project-authored demo manuals and the generator that renders them."""

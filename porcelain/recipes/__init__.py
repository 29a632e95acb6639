"""Training recipes: the fields a recipe may have, checking one, registering and reading them."""

"""Training: recipes, the training loop and its parts."""

"""governors package."""

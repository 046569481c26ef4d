"""What a failed deploy says: the exceptions of the deploy layer and the cause they name."""

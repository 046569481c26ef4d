"""One module per deploy stage; each checks its own post-condition."""

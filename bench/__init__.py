"""`make bench`: the project's performance figures, each a ratio to a fair peer measured in the same run."""

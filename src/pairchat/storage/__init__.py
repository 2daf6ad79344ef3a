"""Storage and routing backends behind small typed interfaces."""

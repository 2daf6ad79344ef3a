"""The delivery worker: inbox -> routing -> the broker holding each recipient."""

"""Deployment: the descriptors' generator (`deploy.descriptors`) and the RAM policies it writes here."""

"""What the audit log tells the apps above it, which it does not import."""

from django.dispatch import Signal

# A kept check (`check`, the ChainCheck row) found a break the previous check had not.
chain_broken = Signal()

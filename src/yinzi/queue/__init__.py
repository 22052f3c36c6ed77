"""Order queues. The orders table is the truth; a queue only says "look at order N"."""

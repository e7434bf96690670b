"""How long the portal keeps asking Thulium a question it gave no answer to (down,
unreachable, a 5xx): whether it made a campaign change whose answer was lost, or holds a
record whose page was cut off. Here, below the feature apps, so that each of them waits
the same time without importing another."""

import datetime

# What Thulium answers once back is the truth, where "could not tell" would stay unknown for
# good. A day outlasts an outage of Thulium or of the network, and bounds how long the one
# who made the change or added the record waits to hear how it ended.
UNREACHABLE_WAIT = datetime.timedelta(days=1)

"""Live clusters: read-only collection, snapshots, many contexts, PolicyReport output.

I/O lives here (the input edge); what comes out is an ordinary Inventory, so every engine
runs unchanged on a cluster, a snapshot or manifests.
"""

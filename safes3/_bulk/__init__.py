"""Trees of objects: copy_tree and sync on top of the transfer engine."""

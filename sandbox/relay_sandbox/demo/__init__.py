"""`relay demo`: the whole relay offline, with a live preview page of every sandbox chat."""

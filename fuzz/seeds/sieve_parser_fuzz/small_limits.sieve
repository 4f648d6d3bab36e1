if size :over 1M { /* comment */ keep; } # hash

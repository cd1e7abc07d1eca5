"""Long-term memory per account, on mem0.

- `service`: the MemoryService port the rest of the core uses, and Mem0Memory, its implementation;
- `mem0_setup`: everything mem0 needs done around it (its environment before import, our vector
  stores in its factory, our clients, a history store that keeps nothing);
- `consolidation`: which duplicate memories housekeeping deletes;
- `update_judge`, `updates`: which older memories a new one replaces, asked of the model at write
  time, and the candidates it is shown and the forgetting of what it names;
- `writer`: memory writes off the reply's path, and the one way any write lands (erasure epochs);
- `vectors`: the per-account vector stores mem0 writes to (SQLite in DATA_DIR, or PostgreSQL).
"""

"""One RPC layer for the nodes of a multi-process deployment (substrate, vault, providers).

* :mod:`~qclone.storage.rpc.keys`: node identities, join tokens, enrollment,
  signed requests, the vault's decryption authorizations;
* :mod:`~qclone.storage.rpc.codec`: the per-method codec and timeout table;
* :mod:`~qclone.storage.rpc.server`: the node app built from a port;
* :mod:`~qclone.storage.rpc.client`: the remote implementation of a port;
* :mod:`~qclone.storage.rpc.breaker`: the circuit breaker of each node.
"""

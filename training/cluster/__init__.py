"""Dask for the heavy jobs (docs/dask.md): the client's life cycle (:mod:`.client`), LightGBM training on partitioned
tables (:mod:`.tabular`), batch scoring of large shipment files (:mod:`.scoring`) and the suggester's encoding spread
over the workers (:mod:`.encoding`). Everything here is off unless ``CLEARANCE_DASK_SCHEDULER`` is set."""

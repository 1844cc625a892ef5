"""PSF-model code shared by several runners: HSM shapes, validation catalogues,
MULTI-EPOCH store values, the MCCD and Piff models (``mccd``, ``piff``)."""

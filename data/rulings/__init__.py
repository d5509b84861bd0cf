"""The ruling library: schema, language detection, file readers, the repository (store) and the import service."""

"""Names every layer may use without importing the models (the CLI's --help loads none of them)."""

DEFAULT_CONFIG = "okrsync.yaml"  # the config read when neither -c nor $OKRSYNC_CONFIG names one
DEFAULT_NAMESPACE = "default"  # a config without `namespace:`; separates teams that share a store

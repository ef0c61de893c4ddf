# Sourced by scripts/run and scripts/test: where IMDB is, and quiet TensorFlow logs.
# A prepared copy of IMDB beside the clone (../shared/data) is used when TFDS_DATA_DIR is unset;
# with network access TFDS downloads it instead.
if [ -z "${TFDS_DATA_DIR:-}" ] && [ -d "../shared/data/tensorflow_datasets/imdb_reviews" ]; then
  TFDS_DATA_DIR="$(cd ../shared/data/tensorflow_datasets && pwd)"
  export TFDS_DATA_DIR
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"

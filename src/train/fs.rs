//! Writing a file atomically: a temporary file in the same directory, then a rename (the
//! checkpoints' writer, shared by the metrics and plots).

pub use soma_nn::checkpoint::write_atomically as write_atomic;

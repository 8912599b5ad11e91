//! Soma's Tensor: a recorded op graph with backward and gradcheck.

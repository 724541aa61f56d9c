//! Convergence properties.

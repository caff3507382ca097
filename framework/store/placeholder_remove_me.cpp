// Removed when the store lands.
namespace merx { void store_placeholder() {} }

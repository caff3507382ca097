// Test fixture: a shared object in a plugin folder that is not a merx plugin (no merx_plugin_entry).
extern "C" __attribute__((visibility("default"))) int merx_test_junk_value(void) {
  return 42;
}

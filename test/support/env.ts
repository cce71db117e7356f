// Each test file may change the configuration before it boots the app (e.g. lower a limit):
// make sure nothing cached from an earlier file leaks in. The config module caches per
// module registry, and jest gives every file a fresh registry.
jest.setTimeout(60_000);

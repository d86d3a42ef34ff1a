// Filled by the CLI issue; nothing is exported yet.
export {};

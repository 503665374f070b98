/** hapress's version, as package.json says (`hapress --version`, backup manifests). */
export const HAPRESS_VERSION = "0.1.0";

// Stylesheets are bundled by esbuild (scripts/build-web.mjs); importing one has no value.
declare module "*.css";

// What danfo gets in the image where it asks for tfjs-node: tfjs's core on the pure-JS CPU backend. danfo
// builds a few of its operations on tensors; the umbrella package would also load the WebGL backend, the
// layers API, the converter and tfjs-data, which prepare never uses. (The backend registers itself when its
// module loads; a named export keeps the bundler from dropping a module its package marks side-effect free.)
export { version_cpu } from "@tensorflow/tfjs-backend-cpu";
export * from "@tensorflow/tfjs-core";

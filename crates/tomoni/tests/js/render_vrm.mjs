// three-vrm's picture of the frame `tomoni render --scene-json` took: the same file, camera,
// size and pose (every node's world transform as tomoni had it), drawn by three.js' WebGL
// renderer with three-vrm's MToon and expressions, in Chromium. Loaded by the page the test
// writes (it maps `three`, `three/addons/` and `@pixiv/three-vrm` to the cached npm packages).
//
//   await window.tomoniLoad(url, isVrm0)        once per file
//   window.tomoniDraw(scene, expression) -> PNG data URL   per frame
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { VRMLoaderPlugin } from '@pixiv/three-vrm';

let state = null;

window.tomoniLoad = async (url, isVrm0) => {
  const loader = new GLTFLoader();
  loader.register((parser) => new VRMLoaderPlugin(parser));
  const gltf = await loader.loadAsync(url);
  const vrm = gltf.userData.vrm;
  // glTF node index -> the object three.js made for it, and each node's name as Bevy names
  // it (the node's name, else `GltfNode{index}`); a name given twice cannot be matched.
  const byIndex = new Map();
  for (const [object, a] of gltf.parser.associations) {
    if (a && a.nodes !== undefined && !byIndex.has(a.nodes)) byIndex.set(a.nodes, object);
  }
  const byName = new Map();
  const twice = new Set();
  gltf.parser.json.nodes.forEach((n, i) => {
    const name = n.name ?? `GltfNode${i}`;
    if (byName.has(name)) twice.add(name);
    byName.set(name, byIndex.get(i));
  });
  for (const n of twice) byName.delete(n);
  // Nodes in tree order, parents before children.
  const order = [];
  vrm.scene.traverse((o) => order.push(o));
  const scene = new THREE.Scene();
  scene.add(vrm.scene);
  // The lights come with each frame (tomoni's, in the units three.js' MToon reads).
  const lights = new THREE.Group();
  scene.add(lights);
  const canvas = document.createElement('canvas');
  document.body.appendChild(canvas);
  const renderer = new THREE.WebGLRenderer({ canvas, alpha: true, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(1);
  renderer.setClearColor(0x000000, 0);
  state = { vrm, scene, lights, renderer, byName, order, isVrm0 };
  return { nodes: byName.size, expressions: vrm.expressionManager.expressions.map((e) => e.expressionName) };
};

// `happy`, or weights `aa=0.6,ih=0.25`.
const weights = (spec) =>
  (spec ?? '').split(',').filter((p) => p.trim()).map((p) => {
    const [n, w] = p.split('=');
    return [n.trim(), w === undefined ? 1 : parseFloat(w)];
  });

window.tomoniDraw = (frame, expression) => {
  const { vrm, scene, lights, renderer, byName, order, isVrm0 } = state;
  // Every node tomoni recorded, placed where tomoni had it in the world. A VRM 0.x file is
  // drawn from its own (−Z-facing) data: tomoni's migrated node is the original turned 180°
  // about Y, so the original's node sits at (tomoni's world) × (the turn).
  const turn = new THREE.Matrix4().makeRotationY(isVrm0 ? Math.PI : 0);
  const target = new Map();
  for (const [name, m] of Object.entries(frame.nodes)) {
    const o = byName.get(name);
    if (o) target.set(o, new THREE.Matrix4().fromArray(m).multiply(turn));
  }
  let placed = 0;
  for (const o of order) {
    const w = target.get(o);
    if (!w) continue;
    o.parent.updateMatrixWorld(true);
    const local = o.parent.matrixWorld.clone().invert().multiply(w);
    local.decompose(o.position, o.quaternion, o.scale);
    o.updateMatrixWorld(true);
    placed++;
  }
  // Expressions as three-vrm applies them: morph, material colour and texture-transform binds,
  // isBinary, overrides. Nothing else of vrm.update runs but the materials' (springs and look-at
  // are in the pose).
  const em = vrm.expressionManager;
  for (const e of em.expressions) em.setValue(e.expressionName, 0);
  for (const [n, w] of weights(expression)) em.setValue(n, w);
  em.update();
  // MToon copies texture offsets and scales (a texture-transform bind's) into its uniforms in
  // its own update, which vrm.update would call with the springs: call it alone. Its UV
  // animation advances by the time given: from zero to tomoni's shader clock.
  for (const m of vrm.materials ?? []) {
    if (!m.isMToonMaterial) continue;
    m.uvAnimationScrollXOffset = 0;
    m.uvAnimationScrollYOffset = 0;
    m.uvAnimationRotationPhase = 0;
    m.update(frame.time);
  }
  // tomoni's lights. Directional: colour × intensity is what both MToons divide by π.
  // Ambient: Bevy's brightness is radiance, three.js' ambient intensity irradiance (× π).
  lights.clear();
  for (const l of frame.lights.directional) {
    const light = new THREE.DirectionalLight(new THREE.Color().setRGB(...l.color), 1);
    light.position.fromArray(l.to_light);
    lights.add(light, light.target);
  }
  const a = frame.lights.ambient.map((v) => v * Math.PI);
  lights.add(new THREE.AmbientLight(new THREE.Color().setRGB(...a), 1));
  const c = frame.camera;
  const camera = new THREE.PerspectiveCamera((c.fov_y * 180) / Math.PI, c.width / c.height, c.near, 100);
  new THREE.Matrix4().fromArray(c.matrix).decompose(camera.position, camera.quaternion, camera.scale);
  camera.updateMatrixWorld(true);
  renderer.setSize(c.width, c.height, false);
  renderer.render(scene, camera);
  return { placed, png: renderer.domElement.toDataURL('image/png') };
};

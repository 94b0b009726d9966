/*
 * ranml.serving._native: compiled helpers of the runtime's C-API engine.
 *
 * OneRowCall: a one-row forecast in one native call.
 * NativeBuild: a session built on a native thread that never takes the GIL.
 *
 * --- OneRowCall ---
 * For models whose run takes a few microseconds, the numpy calls around the run (scaling the
 * window into the bound input buffer, the finiteness check, unscaling the output) cost as much as
 * the run itself. OneRowCall.run() does all of it in C around one call of ONNX Runtime's C API
 * `Run` (the GIL released while the session runs, as ctypes does):
 *
 *   x = window * A + B            (per-cell maps, expanded to the window's shape)
 *   non-finite x  -> NONFINITE_INPUT (the model is not run)
 *   Run(session, x -> y)
 *   non-finite y  -> NONFINITE_OUTPUT
 *   return y * S + T              (a new float32 array shaped like y)
 *
 * Multiplications and additions are rounded separately (built with -ffp-contract=off), so the
 * result is bit-identical to the numpy path of ranml.serving.runtime.
 *
 * The session, the input/output OrtValues over x and y and their names are owned by the Python
 * object passed as `owner` (an ort_capi.NativeBinding), which this object keeps alive. Not for
 * concurrent calls (the Predictor serialises its calls).
 *
 * --- NativeBuild ---
 * A hot swap builds the new version's session while the serving loop keeps answering. Built from
 * a Python thread (ctypes releases the GIL for the build), that thread still needs the GIL to
 * start the build and to return from it, and each hand-over can hold the serving thread up (on a
 * VM whose blocked threads wake slowly, by milliseconds). NativeBuild.start() runs
 * CreateSessionFromArray on an OS thread of its own that touches no Python object: the serving
 * loop polls done() in its slack and collects the session with result(); no hand-over at all.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <string.h>

/* Indices in the OrtApi function table (ABI-stable: entries are only ever appended). */
enum {
    API_GET_ERROR_MESSAGE = 2,
    API_CREATE_SESSION_FROM_ARRAY = 8,
    API_RUN = 9,
    API_RELEASE_STATUS = 93,
    API_RELEASE_SESSION = 95,
};

/* Result codes of run() other than an array (ranml.serving.runtime reads them). */
enum { NONFINITE_INPUT = 1, NONFINITE_OUTPUT = 2, NOT_FAST = 3 };

typedef void *(*run_fn)(void *session, const void *run_options, const char *const *input_names,
                        const void *const *inputs, size_t input_len, const char *const *output_names,
                        size_t output_len, void **outputs);
typedef const char *(*message_fn)(const void *status);
typedef void (*release_fn)(void *status);
typedef void *(*create_fn)(const void *env, const void *model, size_t length, const void *options,
                           void **session);

typedef struct {
    PyObject_HEAD
    run_fn run;
    message_fn message;
    release_fn release_status;
    void *session;
    const char *input_names[1];
    const char *output_names[1];
    void *inputs[1];
    void *outputs[1];
    PyObject *keep;      /* (owner, input name, output name): alive as long as this object */
    PyArrayObject *x;    /* bound input buffer */
    PyArrayObject *y;    /* bound output buffer */
    npy_intp nx;
    npy_intp ny;
} OneRowCall;

/* 1 when every value is finite. Integer test of the exponent bits: vectorised, and not
   optimised away by a compiler that assumes finite floats. */
static int all_finite(const float *v, npy_intp n)
{
    uint32_t bad = 0;
    for (npy_intp i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], sizeof bits);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

static int is_float32_buffer(PyObject *o)
{
    return PyArray_Check(o) && PyArray_TYPE((PyArrayObject *)o) == NPY_FLOAT32 &&
           PyArray_ISCARRAY_RO((PyArrayObject *)o) && PyArray_ISNOTSWAPPED((PyArrayObject *)o);
}

static void *address(PyObject *o, const char *what)
{
    void *p = PyLong_AsVoidPtr(o);
    if (p == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%s: a null address", what);
    return p;
}

static int onerow_init(OneRowCall *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"api", "session", "input_name", "input_value", "output_name", "output_value",
                             "x", "y", "owner", NULL};
    PyObject *api, *session, *in_value, *out_value, *owner, *in_name, *out_name, *x, *y;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOSOSOOOO", kwlist, &api, &session, &in_name, &in_value,
                                     &out_name, &out_value, &x, &y, &owner))
        return -1;
    if (!is_float32_buffer(x) || !is_float32_buffer(y) || !PyArray_ISWRITEABLE((PyArrayObject *)x) ||
        !PyArray_ISWRITEABLE((PyArrayObject *)y)) {
        PyErr_SetString(PyExc_TypeError, "x and y must be writeable, C-contiguous float32 arrays");
        return -1;
    }
    void **table = address(api, "api");
    if (table == NULL)
        return -1;
    self->session = address(session, "session");
    self->inputs[0] = address(in_value, "input_value");
    self->outputs[0] = address(out_value, "output_value");
    if (PyErr_Occurred())
        return -1;
    self->run = (run_fn)table[API_RUN];
    self->message = (message_fn)table[API_GET_ERROR_MESSAGE];
    self->release_status = (release_fn)table[API_RELEASE_STATUS];
    PyObject *keep = PyTuple_Pack(3, owner, in_name, out_name);
    if (keep == NULL)
        return -1;
    Py_XSETREF(self->keep, keep);
    self->input_names[0] = PyBytes_AS_STRING(in_name);
    self->output_names[0] = PyBytes_AS_STRING(out_name);
    Py_INCREF(x);
    Py_XSETREF(self->x, (PyArrayObject *)x);
    Py_INCREF(y);
    Py_XSETREF(self->y, (PyArrayObject *)y);
    self->nx = PyArray_SIZE(self->x);
    self->ny = PyArray_SIZE(self->y);
    return 0;
}

static PyObject *onerow_run(OneRowCall *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "run(window, maps) takes two arguments");
        return NULL;
    }
    if (self->x == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "OneRowCall used before it was initialised");
        return NULL;
    }
    PyObject *window = args[0], *maps = args[1];
    const npy_intp nx = self->nx, ny = self->ny;
    if (!is_float32_buffer(window) || PyArray_SIZE((PyArrayObject *)window) != nx)
        return PyLong_FromLong(NOT_FAST); /* another dtype or layout: the caller's numpy path */
    if (!is_float32_buffer(maps) || PyArray_SIZE((PyArrayObject *)maps) != 2 * (nx + ny)) {
        PyErr_Format(PyExc_TypeError, "maps must be a C-contiguous float32 array of %zd values (A, B, S, T)",
                     (Py_ssize_t)(2 * (nx + ny)));
        return NULL;
    }
    const float *w = PyArray_DATA((PyArrayObject *)window);
    const float *a = PyArray_DATA((PyArrayObject *)maps);
    const float *b = a + nx, *s = a + 2 * nx, *t = s + ny;
    float *x = PyArray_DATA(self->x);
    float *y = PyArray_DATA(self->y);
    for (npy_intp i = 0; i < nx; i++)
        x[i] = w[i] * a[i] + b[i];
    if (!all_finite(x, nx))
        return PyLong_FromLong(NONFINITE_INPUT);
    void *status;
    Py_BEGIN_ALLOW_THREADS
    status = self->run(self->session, NULL, self->input_names, (const void *const *)self->inputs, 1,
                       self->output_names, 1, self->outputs);
    Py_END_ALLOW_THREADS
    if (status != NULL) {
        const char *message = self->message(status);
        PyErr_Format(PyExc_RuntimeError, "ONNX Runtime run failed: %s", message ? message : "(no message)");
        self->release_status(status);
        return NULL;
    }
    if (!all_finite(y, ny))
        return PyLong_FromLong(NONFINITE_OUTPUT);
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(PyArray_NDIM(self->y), PyArray_DIMS(self->y),
                                                            NPY_FLOAT32);
    if (out == NULL)
        return NULL;
    float *o = PyArray_DATA(out);
    for (npy_intp i = 0; i < ny; i++)
        o[i] = y[i] * s[i] + t[i];
    return (PyObject *)out;
}

static int onerow_traverse(OneRowCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->keep);
    Py_VISIT(self->x);
    Py_VISIT(self->y);
    return 0;
}

static int onerow_clear(OneRowCall *self)
{
    Py_CLEAR(self->keep);
    Py_CLEAR(self->x);
    Py_CLEAR(self->y);
    return 0;
}

static void onerow_dealloc(OneRowCall *self)
{
    PyObject_GC_UnTrack(self);
    onerow_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef onerow_methods[] = {
    {"run", (PyCFunction)(void (*)(void))onerow_run, METH_FASTCALL,
     "run(window, maps) -> ndarray | int\n\n"
     "Scale `window` into the input buffer, run the session, unscale the output into a new array.\n"
     "An int instead of an array: 1 = non-finite input (not run), 2 = non-finite output,\n"
     "3 = the window is not a C-contiguous float32 array of the input's size (use the numpy path)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject OneRowCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ranml.serving._native.OneRowCall",
    .tp_doc = "A bound one-row session call: scale, run, check and unscale in one native call.",
    .tp_basicsize = sizeof(OneRowCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)onerow_init,
    .tp_dealloc = (destructor)onerow_dealloc,
    .tp_traverse = (traverseproc)onerow_traverse,
    .tp_clear = (inquiry)onerow_clear,
    .tp_methods = onerow_methods,
};

/* ---------------------------------------------------------------------------------------------- */

enum { BUILD_NEW = 0, BUILD_RUNNING = 1, BUILD_DONE = 2 };

typedef struct {
    PyObject_HEAD
    create_fn create;
    message_fn message;
    release_fn release_status;
    release_fn release_session;
    void *env;
    void *options;
    PyObject *model;             /* bytes, read by the build thread: alive until the build is done */
    PyThread_type_lock finished; /* held from start() until the build thread is done */
    int state;                   /* BUILD_*: written with release, read with acquire semantics */
    void *session;               /* the built session, until result() hands it over */
    void *status;                /* the error status of a failed build, until result() reads it */
} NativeBuild;

static int build_state(NativeBuild *self)
{
    return __atomic_load_n(&self->state, __ATOMIC_ACQUIRE);
}

/* The build thread: no Python API here (it holds no thread state and never takes the GIL). */
static void build_thread(void *arg)
{
    NativeBuild *self = arg;
    void *session = NULL;
    self->status = self->create(self->env, PyBytes_AS_STRING(self->model), (size_t)PyBytes_GET_SIZE(self->model),
                                self->options, &session);
    self->session = self->status == NULL ? session : NULL;
    __atomic_store_n(&self->state, BUILD_DONE, __ATOMIC_RELEASE);
    PyThread_release_lock(self->finished);
}

/* Wait (GIL released) until a started build is done. */
static void wait_for_build(NativeBuild *self)
{
    if (build_state(self) == BUILD_RUNNING) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->finished, WAIT_LOCK);
        PyThread_release_lock(self->finished);
        Py_END_ALLOW_THREADS
    }
}

static int build_init(NativeBuild *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"api", "env", "options", "model", NULL};
    PyObject *api, *env, *options, *model;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOS", kwlist, &api, &env, &options, &model))
        return -1;
    if (self->finished != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a NativeBuild is initialised once");
        return -1;
    }
    void **table = address(api, "api");
    if (table == NULL)
        return -1;
    self->env = address(env, "env");
    self->options = address(options, "options");
    if (PyErr_Occurred())
        return -1;
    self->create = (create_fn)table[API_CREATE_SESSION_FROM_ARRAY];
    self->message = (message_fn)table[API_GET_ERROR_MESSAGE];
    self->release_status = (release_fn)table[API_RELEASE_STATUS];
    self->release_session = (release_fn)table[API_RELEASE_SESSION];
    self->finished = PyThread_allocate_lock();
    if (self->finished == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(model);
    self->model = model;
    return 0;
}

static PyObject *build_start(NativeBuild *self, PyObject *Py_UNUSED(ignored))
{
    if (self->finished == NULL || build_state(self) != BUILD_NEW) {
        PyErr_SetString(PyExc_RuntimeError, "a NativeBuild is started once, after it is initialised");
        return NULL;
    }
    PyThread_acquire_lock(self->finished, WAIT_LOCK); /* free until now: does not block */
    self->state = BUILD_RUNNING;
    if (PyThread_start_new_thread(build_thread, self) == PYTHREAD_INVALID_THREAD_ID) {
        self->state = BUILD_NEW;
        PyThread_release_lock(self->finished);
        PyErr_SetString(PyExc_RuntimeError, "cannot start a thread for the session build");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *build_done(NativeBuild *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(build_state(self) == BUILD_DONE);
}

static PyObject *build_result(NativeBuild *self, PyObject *Py_UNUSED(ignored))
{
    if (build_state(self) == BUILD_NEW) {
        PyErr_SetString(PyExc_RuntimeError, "result() of a build that was not started");
        return NULL;
    }
    wait_for_build(self);
    if (self->status != NULL) {
        const char *message = self->message(self->status);
        PyErr_Format(PyExc_RuntimeError, "%s", message ? message : "(no message)");
        self->release_status(self->status);
        self->status = NULL;
        return NULL;
    }
    if (self->session == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the session of this build was already handed over");
        return NULL;
    }
    void *session = self->session;
    self->session = NULL; /* the caller owns it now (ort_capi.NativeSession releases it) */
    return PyLong_FromVoidPtr(session);
}

static void build_dealloc(NativeBuild *self)
{
    wait_for_build(self); /* the build thread reads this object until it is done */
    if (self->session != NULL)
        self->release_session(self->session);
    if (self->status != NULL)
        self->release_status(self->status);
    if (self->finished != NULL)
        PyThread_free_lock(self->finished);
    Py_XDECREF(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef build_methods[] = {
    {"start", (PyCFunction)build_start, METH_NOARGS, "Start the build on a native thread (once)."},
    {"done", (PyCFunction)build_done, METH_NOARGS, "Whether the build has finished (never blocks)."},
    {"result", (PyCFunction)build_result, METH_NOARGS,
     "The session's address once built (waits with the GIL released if needed; handed over once).\n"
     "Raises RuntimeError with ONNX Runtime's message when the build failed."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject NativeBuildType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ranml.serving._native.NativeBuild",
    .tp_doc = "One session build from ONNX bytes on a native thread that never takes the GIL.",
    .tp_basicsize = sizeof(NativeBuild),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)build_init,
    .tp_dealloc = (destructor)build_dealloc,
    .tp_methods = build_methods,
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ranml.serving._native",
    .m_doc = "Compiled helpers of the C-API engine: a one-row forecast in one native call, and "
             "session builds on a native thread that never takes the GIL.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__native(void)
{
    import_array();
    if (PyType_Ready(&OneRowCallType) < 0 || PyType_Ready(&NativeBuildType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&OneRowCallType);
    if (PyModule_AddObject(m, "OneRowCall", (PyObject *)&OneRowCallType) < 0) {
        Py_DECREF(&OneRowCallType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&NativeBuildType);
    if (PyModule_AddObject(m, "NativeBuild", (PyObject *)&NativeBuildType) < 0) {
        Py_DECREF(&NativeBuildType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "NONFINITE_INPUT", NONFINITE_INPUT) < 0 ||
        PyModule_AddIntConstant(m, "NONFINITE_OUTPUT", NONFINITE_OUTPUT) < 0 ||
        PyModule_AddIntConstant(m, "NOT_FAST", NOT_FAST) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

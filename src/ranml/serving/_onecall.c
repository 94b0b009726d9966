/*
 * ranml.serving._onecall: a one-row forecast in one native call.
 *
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
 * object passed as `owner` (an ort_capi.NativeBinding), which this object keeps alive.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <string.h>

/* Indices in the OrtApi function table (ABI-stable: entries are only ever appended). */
enum { API_GET_ERROR_MESSAGE = 2, API_RUN = 9, API_RELEASE_STATUS = 93 };

/* Result codes of run() other than an array (ranml.serving.runtime reads them). */
enum { NONFINITE_INPUT = 1, NONFINITE_OUTPUT = 2, NOT_FAST = 3 };

typedef void *(*run_fn)(void *session, const void *run_options, const char *const *input_names,
                        const void *const *inputs, size_t input_len, const char *const *output_names,
                        size_t output_len, void **outputs);
typedef const char *(*message_fn)(const void *status);
typedef void (*release_fn)(void *status);

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
    .tp_name = "ranml.serving._onecall.OneRowCall",
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

static struct PyModuleDef onecall_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ranml.serving._onecall",
    .m_doc = "A one-row forecast (scale, ONNX Runtime C API run, checks, unscale) in one native call.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__onecall(void)
{
    import_array();
    if (PyType_Ready(&OneRowCallType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&onecall_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&OneRowCallType);
    if (PyModule_AddObject(m, "OneRowCall", (PyObject *)&OneRowCallType) < 0) {
        Py_DECREF(&OneRowCallType);
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
